/** A node of a plan as `EXPLAIN (ANALYZE, FORMAT JSON)` answers it. */
export type PlanNode = Record<string, any> & { Plans?: PlanNode[] };

function visit(plan: PlanNode, each: (node: PlanNode) => void): void {
  each(plan);
  for (const child of plan.Plans ?? []) visit(child, each);
}

/**
 * The rows each relation's scans read in an analyzed plan: those they returned and those their
 * filter threw away, times their loops. An UPDATE's or DELETE's own node is no scan and not counted.
 */
export function rowsRead(plan: PlanNode): Map<string, number> {
  const read = new Map<string, number>();
  visit(plan, (node) => {
    const relation: string | undefined = node['Relation Name'];
    if (relation && node['Node Type'] !== 'ModifyTable')
      read.set(
        relation,
        (read.get(relation) ?? 0) +
          (node['Actual Rows'] + (node['Rows Removed by Filter'] ?? 0)) * node['Actual Loops'],
      );
  });
  return read;
}

/** The row pairs an analyzed plan's joins compared and threw away (their join filters), times their loops. */
export function joinFilterDiscards(plan: PlanNode): number {
  let discarded = 0;
  visit(plan, (node) => (discarded += (node['Rows Removed by Join Filter'] ?? 0) * node['Actual Loops']));
  return discarded;
}
