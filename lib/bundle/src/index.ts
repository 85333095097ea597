// The signed update-bundle format: manifest, ed25519 signature, streaming verification.
export {};
