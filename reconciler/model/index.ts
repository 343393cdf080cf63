export * from './common.ts';
export * from './openclaw.ts';
export * from './kinds.ts';
export * from './repository.ts';
