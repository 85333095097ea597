// efivarfs variables, EFI_LOAD_OPTION and device-path codecs, boot manager variables; no slot policy.
export {};
