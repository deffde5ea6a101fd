// A WebSocket message as text: `ws` hands a listener a Buffer by default (binaryType
// 'nodebuffer'), a list of fragments or an ArrayBuffer when a client asks for them.
import type { RawData } from 'ws';

export function messageText(raw: RawData): string {
  if (Array.isArray(raw)) return Buffer.concat(raw).toString('utf8');
  return (Buffer.isBuffer(raw) ? raw : Buffer.from(raw)).toString('utf8');
}
