// Process nodes: a UEFI boot-manager emulator, node directories, network namespaces.
export {};
