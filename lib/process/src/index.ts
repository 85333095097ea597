// Child processes for services and harnesses: started, logged and stopped the same way.
export { ManagedProcess, type ManagedProcessOptions, type ProcessExit } from './managed-process.js';
export { ProcessError, type ProcessErrorCode } from './errors.js';
