// etcd's members as the operator reads them: a plain snapshot, so the pure rollout decisions
// (quorum checks) can take it without knowing how it was read.

/** etcd's members as the engine read them just now (etcd3: member list + status per member). */
export interface EtcdView {
  readonly members: readonly EtcdMemberView[];
}

export interface EtcdMemberView {
  /** The member name: the node ID. */
  readonly name: string;
  /** False for a learner, which does not count towards quorum. */
  readonly voting: boolean;
  readonly healthy: boolean;
}
