// The wire contract: node-agent gRPC protos and the TypeScript generated from them.
export {};
