// Shared state with one producer and many watchers (after Monogon's osbase/event memory value).
export { Value, type ValueOptions } from './value.js';
