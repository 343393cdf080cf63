import tseslint from 'typescript-eslint';

export default tseslint.config(
  // .cache/ holds local scratch files and caches (git-ignored).
  { ignores: ['dist/', 'actions/dist/', 'node_modules/', 'fleet/harness/fixture/', 'coverage/', '.cache/'] },
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-console': 'error',
    },
  },
  {
    // Scripts and benchmarks are programs whose job is to print.
    files: ['scripts/**', 'bench/**', 'actions/build.ts'],
    rules: { 'no-console': 'off' },
  },
);
