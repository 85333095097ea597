// The security epoch of this source tree: what a bundle built from it carries unless
// `--security-epoch` says otherwise (docs/bundle-format.md).

/**
 * Raised by the commit that fixes a vulnerability no node may go back to; nodes that committed a
 * release of a higher epoch refuse bundles below it unless an OSUpdate allows the downgrade.
 */
export const currentSecurityEpoch = 0;
