// Lint: typescript-eslint's recommended rules, plus the house rule that keeps workflow code
// deterministic and bundle-safe: no Node built-ins, no I/O libraries, no activity code by value.
import tseslint from 'typescript-eslint';

const nodeBuiltins = ['node:*', 'fs', 'fs/*', 'path', 'os', 'crypto', 'child_process', 'http', 'https', 'net', 'dns', 'url', 'worker_threads', 'process'];

export default tseslint.config(
  { ignores: ['node_modules/**', '.data/**', 'db/migrations/**'] },
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-non-null-assertion': 'off',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    files: ['workflows/**/*.ts'],
    rules: {
      'no-restricted-imports': 'off',
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: nodeBuiltins, message: 'workflow code must be deterministic: no Node built-ins (use @temporalio/workflow).' },
            {
              group: ['**/activities', '**/activities/*', 'drizzle-orm', 'drizzle-orm/*', 'postgres', '@electric-sql/*', '@temporalio/client', '@temporalio/worker', '@temporalio/activity', '@temporalio/testing', '**/db', '**/db/*', '**/trainers/*', '**/api/*'],
              allowTypeImports: true,
              message: 'workflows may import only types from activities and no I/O code: use `import type`.',
            },
          ],
        },
      ],
    },
  },
);
