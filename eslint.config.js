import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules/', '.tools/', 'bin/', 'coverage/', 'hack/tools/', 'dist/'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: { parserOptions: { projectService: { allowDefaultProject: ['*.js'] } } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      complexity: ['error', 12],
      'max-depth': ['error', 3],
      'max-params': ['error', 4],
    },
  },
  {
    // workload and operator share only common/.
    files: ['workload/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: ['**/operator/**'] }] },
  },
  {
    files: ['operator/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: ['**/workload/**'] }] },
  },
  {
    // The controller runtime knows nothing of Capstan.
    files: ['operator/src/runtime/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['../*', '**/workload/**', '**/common/**'],
              message: 'runtime/ must not import Capstan code',
            },
          ],
        },
      ],
    },
  },
  {
    // The dashboard page's one module runs in the browser as served (no build step): plain JS.
    files: ['operator/src/dashboard/static/**/*.js'],
    ...tseslint.configs.disableTypeChecked,
  },
  {
    files: ['operator/src/dashboard/static/**/*.js'],
    languageOptions: {
      globals: {
        document: 'readonly',
        location: 'readonly',
        sessionStorage: 'readonly',
        fetch: 'readonly',
        Node: 'readonly',
        setTimeout: 'readonly',
      },
    },
  },
  {
    files: ['test/**/*.ts'],
    rules: {
      '@typescript-eslint/unbound-method': 'off',
      '@typescript-eslint/no-non-null-assertion': 'off',
      'max-params': 'off',
    },
  },
);
