// Prints the addon's source list for binding.gyp: the same files CMakeLists.txt globs.
const fs = require('node:fs');
const path = require('node:path');
const root = path.resolve(__dirname, '..');
const platform = process.argv[2] === 'win' ? 'win32' : 'posix';
const dirs = ['native/src/core', `native/src/platform/${platform}`, 'native/src/addon'];
const files = dirs.flatMap((d) =>
  fs.existsSync(path.join(root, d))
    ? fs.readdirSync(path.join(root, d)).filter((f) => f.endsWith('.cpp')).sort().map((f) => `${d}/${f}`)
    : [],
);
process.stdout.write(files.join(' '));
