// ESLint flat config. Prettier owns formatting; ESLint owns correctness plus one layout rule Prettier cannot
// enforce: no line over 140 characters, strings and comments included (Prettier never breaks those).
// Rules are the non-type-checked typescript-eslint set, so a lint run needs no type information and stays fast.
import js from '@eslint/js';
import stylistic from '@stylistic/eslint-plugin';
import prettier from 'eslint-config-prettier';
import { defineConfig, globalIgnores } from 'eslint/config';
import tseslint from 'typescript-eslint';

export default defineConfig([
  globalIgnores(['**/node_modules/', '**/cdk.out/', '**/dist/', '**/.local/', '**/*.json']),
  js.configs.recommended,
  tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': [
        'error',
        {
          argsIgnorePattern: '^_',
          varsIgnorePattern: '^_',
          caughtErrorsIgnorePattern: '^_',
          destructuredArrayIgnorePattern: '^_',
        },
      ],
    },
  },
  // Turns off every rule that would fight Prettier, including @stylistic/max-len, so it must come before max-len.
  prettier,
  {
    plugins: { '@stylistic': stylistic },
    rules: {
      // The stylistic plugin's copy of max-len (the core rule is deprecated and goes away in ESLint 11).
      // No ignore options on purpose: every line, code, strings, templates, regexps, URLs and comments, fits in 140.
      '@stylistic/max-len': [
        'error',
        {
          code: 140,
          tabWidth: 2,
          ignoreComments: false,
          ignoreTrailingComments: false,
          ignoreUrls: false,
          ignoreStrings: false,
          ignoreTemplateLiterals: false,
          ignoreRegExpLiterals: false,
        },
      ],
    },
  },
]);
