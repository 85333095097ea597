// The cluster's Kubernetes service network: kube-apiserver allocates service addresses from it
// and is itself reachable at its first address (a name on its serving certificate).
export const serviceRange = '10.96.0.0/16';
export const firstServiceIp = '10.96.0.1';
