// How metroctl writes to the Kubernetes API: under its own field manager name, so managedFields
// and audit logs say "metroctl" (client-node would say "node-fetch"), and patches as JSON merge
// patches.
import { PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';

/** The fieldManager of every create, patch and replace metroctl sends. */
export const fieldManager = 'metroctl';

/** Request options for a JSON merge patch (client-node defaults to a JSON patch). */
export const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
