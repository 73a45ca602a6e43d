/** A status machine: for each status, the statuses it may move to. Final statuses map to []. */
export type StatusMachine<S extends string> = Readonly<Record<S, readonly S[]>>;

export function allowedMoves<S extends string>(machine: StatusMachine<S>, from: S): readonly S[] {
  return machine[from];
}

export function isTransitionAllowed<S extends string>(machine: StatusMachine<S>, from: S, to: S): boolean {
  return machine[from].includes(to);
}

export function isFinal<S extends string>(machine: StatusMachine<S>, status: S): boolean {
  return machine[status].length === 0;
}

export function describeForbiddenMove<S extends string>(
  machine: StatusMachine<S>,
  what: string,
  from: S,
  to: S,
): string {
  const allowed = machine[from];
  return `cannot move ${what} from ${from} to ${to}; allowed: ${allowed.length ? allowed.join(', ') : 'none'}`;
}
