// Child processes for services and harnesses: started, logged and stopped the same way; and files
// replaced atomically, so a crash or power cut leaves the old content or the new, never a mix.
export { ManagedProcess, type ManagedProcessOptions, type ProcessExit } from './managed-process.js';
export { ProcessError, type ProcessErrorCode } from './errors.js';
export { writeFileAtomic, type WriteFileAtomicOptions } from './write-file-atomic.js';
