// The wire contract between programs: the node agent's gRPC API, generated from proto/ by
// `npm run gen` (ts-proto) and committed (CI checks it is up to date), and the roles that
// certificates carry.
export * from './gen/metropolis/node/v1/management.js';
export { certificateRoles, nodeManagementPort, type CertificateRole } from './certificate-roles.js';
