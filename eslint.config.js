// ESLint for every project `npm run lint` type-checks: src/, test/, bench/, scripts/ (each with
// its own tsconfig.json) and the dashboard's public/js (JSDoc-typed, public/js/tsconfig.json).
// Rules that find bugs, typed ones included (a promise nobody awaits, a promise where a
// callback's return value is ignored, `await` on a non-promise); no formatting rules.
import js from '@eslint/js';
import { defineConfig } from 'eslint/config';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default defineConfig(
  { ignores: ['dist/', 'build/', 'build-*/', 'node_modules/', 'test-results/', 'openapi/', 'native/'] },
  js.configs.recommended,
  tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      // node:test's test() and describe() return promises the runner itself awaits.
      '@typescript-eslint/no-floating-promises': [
        'error',
        { allowForKnownSafeCalls: [{ from: 'package', package: 'node:test', name: ['test', 'describe', 'it', 'suite'] }] },
      ],
      // Fastify plugins are async functions by contract, with or without an await inside.
      '@typescript-eslint/require-await': 'off',
      // A cast that restates a type documents an assumption (an untrusted input, a value an
      // assertion just checked); it hides no bug.
      '@typescript-eslint/no-unnecessary-type-assertion': 'off',
      // `_name` marks what is deliberately unused (an omitted property, a required parameter).
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrorsIgnorePattern: '^_' },
      ],
    },
  },
  {
    files: ['**/*.ts'],
    languageOptions: { globals: globals.node },
  },
  {
    files: ['public/js/**/*.js'],
    languageOptions: { globals: globals.browser },
  },
  {
    // Tests assert on JSON bodies and the dashboard renders them: both read them as `any` on
    // purpose, so the rules against using an `any` would only ask for casts.
    files: ['test/**/*.ts', 'public/js/**/*.js'],
    rules: {
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
    },
  },
  {
    // Node-run JavaScript outside any tsconfig: linted without type information.
    files: ['eslint.config.js', 'scripts/**/*.cjs'],
    extends: [tseslint.configs.disableTypeChecked],
    languageOptions: { globals: globals.node },
  },
  {
    files: ['scripts/**/*.cjs'],
    languageOptions: { sourceType: 'commonjs' },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
);
