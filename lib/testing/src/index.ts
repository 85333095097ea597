// Harnesses for integration tests: real processes, free ports, temp dirs that are removed.
export { ControlPlane, type ControlPlaneOptions } from './control-plane.js';
export { kubeconfig, readyz, type ClientCredentials } from '@metropolis/control-plane';
export { controlPlaneBinariesFrom, type ControlPlaneBinaries } from './binaries.js';
export { freePort } from './free-port.js';
export { neverWithin } from './never-within.js';
export { TestingError, type TestingErrorCode } from './errors.js';
export { eventually, eventuallyDefined } from './eventually.js';
export { preseedNode } from './preseed-node.js';
export { extractPayloads } from './extract-payloads.js';
