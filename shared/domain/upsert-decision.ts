/**
 * Create / update / unchanged, decided without I/O. The flow gathers the evidence (key map,
 * listing, searches) and these functions say what it means.
 */

/** What the key map holds for one QAD record. */
export interface KeyMapState {
  pipedriveId?: number;
  contentHash?: string;
  /** Set just before a create is sent; cleared when the key map records the result. */
  pendingCreateAt?: string;
}

export type FirstStep =
  | { kind: 'unchanged'; pipedriveId: number }
  | { kind: 'update'; pipedriveId: number }
  /** An earlier attempt may have created the record and crashed before recording it: find it first. */
  | { kind: 'recover'; since: string }
  | { kind: 'match' };

export function decideFirstStep(state: KeyMapState | undefined, hash: string): FirstStep {
  if (state?.pipedriveId !== undefined) {
    return state.contentHash === hash
      ? { kind: 'unchanged', pipedriveId: state.pipedriveId }
      : { kind: 'update', pipedriveId: state.pipedriveId };
  }
  if (state?.pendingCreateAt !== undefined) return { kind: 'recover', since: state.pendingCreateAt };
  return { kind: 'match' };
}

/** A Pipedrive record found by name, with the QAD key it already carries (if any). */
export interface NameCandidate {
  id: number;
  keyValue: string | null;
}

export type MatchResult =
  | { kind: 'matched'; pipedriveId: number; via: string }
  | { kind: 'ambiguous'; ids: number[]; via: string }
  /** Only a near-identical record (ß/ss, full-width letters): a person says whether it is this one. */
  | { kind: 'possibleDuplicate'; ids: number[]; via: string }
  | { kind: 'notFound' };

/** Candidates found on one kind of evidence, e.g. "name" or "email". */
export interface EvidenceGroup {
  via: string;
  candidates: readonly NameCandidate[];
  /** Evidence too weak to match on but too strong to create beside: its candidates are possible duplicates. */
  possibleDuplicate?: boolean;
}

/**
 * Matching on the stable key first, then on each kind of evidence in order (for a person: email
 * within the organization, then the exact name). A candidate that carries another QAD key, or that
 * another QAD record already owns, is somebody else's record. Two candidates on the same evidence
 * is ambiguous, and a near-identical one a possible duplicate: a person decides, we do not guess.
 */
export function chooseMatch(
  qadKey: string,
  byKey: readonly number[],
  evidence: readonly EvidenceGroup[],
  ownedByOthers: ReadonlySet<number>,
): MatchResult {
  const keyIds = [...new Set(byKey)];
  if (keyIds.length === 1) return { kind: 'matched', pipedriveId: keyIds[0]!, via: 'key' };
  if (keyIds.length > 1) return { kind: 'ambiguous', ids: keyIds.sort((a, b) => a - b), via: 'key' };
  for (const group of evidence) {
    const ids = [
      ...new Set(
        group.candidates.filter((c) => (c.keyValue === null || c.keyValue === qadKey) && !ownedByOthers.has(c.id)).map((c) => c.id),
      ),
    ];
    if (ids.length > 0 && group.possibleDuplicate) return { kind: 'possibleDuplicate', ids: ids.sort((a, b) => a - b), via: group.via };
    if (ids.length === 1) return { kind: 'matched', pipedriveId: ids[0]!, via: group.via };
    if (ids.length > 1) return { kind: 'ambiguous', ids: ids.sort((a, b) => a - b), via: group.via };
  }
  return { kind: 'notFound' };
}
