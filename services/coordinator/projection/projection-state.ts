/** What the coordinator's projection of one agent holds, as far as resuming is concerned. */
export interface ProjectionState {
  /** A snapshot was applied at some point, so the projection is complete up to `appliedRevision`. */
  synced: boolean;
  appliedRevision: number;
}
