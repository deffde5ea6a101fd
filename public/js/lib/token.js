// The bearer token. The server prints a dashboard URL carrying it in the fragment
// (`/#token=…`, which the browser never sends); it is taken from there at load and the
// fragment is removed from the address bar and history. Otherwise it is asked for when
// the server refuses without it: a REST 401 (js/lib/api.js) or an UNAUTHORIZED telemetry
// frame (js/lib/telemetry.js). Kept for this tab only (sessionStorage). Emits 'change'
// when a new token is entered.

const KEY = 'gamesrv.token';

{
  const fromUrl = new URLSearchParams(location.hash.slice(1)).get('token');
  if (fromUrl !== null && fromUrl !== '') {
    sessionStorage.setItem(KEY, fromUrl);
    history.replaceState(history.state, '', location.pathname + location.search);
  }
}

class TokenStore extends EventTarget {
  /** @type {Promise<string | null> | null} one dialog at a time; concurrent askers share it */
  #asking = null;

  /** @returns {string | null} */
  get current() {
    return sessionStorage.getItem(KEY);
  }

  clear() {
    sessionStorage.removeItem(KEY);
  }

  /**
   * Shows the token dialog with `reason`; resolves with the token entered, or null when the
   * operator cancels.
   * @param {string} reason
   * @returns {Promise<string | null>}
   */
  ask(reason) {
    this.#asking ??= this.#dialog(reason).finally(() => {
      this.#asking = null;
    });
    return this.#asking;
  }

  /** @param {string} reason */
  #dialog(reason) {
    const dialog = /** @type {HTMLDialogElement} */ (document.getElementById('token-dialog'));
    const form = /** @type {HTMLFormElement} */ (dialog.querySelector('form'));
    const input = /** @type {HTMLInputElement} */ (form.elements.namedItem('token'));
    /** @type {HTMLElement} */ (dialog.querySelector('.token-reason')).textContent = reason;
    input.value = '';
    return new Promise((resolve) => {
      dialog.addEventListener(
        'close',
        () => {
          const token = dialog.returnValue === 'ok' ? input.value.trim() : '';
          if (token === '') return resolve(null);
          sessionStorage.setItem(KEY, token);
          this.dispatchEvent(new CustomEvent('change', { detail: token }));
          resolve(token);
        },
        { once: true },
      );
      dialog.returnValue = '';
      dialog.showModal();
      input.focus();
    });
  }
}

export const tokens = new TokenStore();
