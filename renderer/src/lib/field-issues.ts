// Puts run/validate's issues next to the form fields they concern. An issue names a dotted field of the run spec
// ('train.optimizer.lr', 'modelId'); each form field claims one or more such paths (prefixes), and what no field
// claims is shown at the top of the form.
import type { FieldIssueData } from './api.ts';

export const FORM_FIELDS = {
  name: ['name'],
  model: ['modelId'],
  dataset: ['datasetVersionId'],
  evalSplit: ['evalSplit'],
  kShot: ['kShot'],
  mode: ['mode'],
  estimator: ['train.estimator', 'train.directions'],
  allocator: ['train.allocator'],
  budget: ['train.budgetPerSample', 'train.nMin', 'train.nMax'],
  batch: ['train.batchSize'],
  epochs: ['train.epochs'],
  maxSteps: ['train.maxSteps'],
  optimizer: [
    'train.optimizer.kind',
    'train.optimizer.beta1',
    'train.optimizer.beta2',
    'train.optimizer.momentum',
  ],
  lr: ['train.optimizer.lr', 'train.schedule'],
  eps: ['train.spsaEps'],
  sigma: ['train.lrSigma'],
  seed: ['train.seed'],
  seeds: ['seeds'],
  evalEvery: ['train.evalEverySteps'],
  tags: ['tags'],
  notes: ['notes'],
} as const satisfies Record<string, readonly string[]>;

export type FormField = keyof typeof FORM_FIELDS;

const matches = (field: string, prefix: string): boolean =>
  field === prefix || field.startsWith(`${prefix}.`) || field.startsWith(`${prefix}[`);

/** The messages of the issues a form field claims. */
export function issuesFor(issues: readonly FieldIssueData[], field: FormField): string[] {
  const prefixes: readonly string[] = FORM_FIELDS[field];
  return issues.filter((i) => prefixes.some((p) => matches(i.field, p))).map((i) => i.message);
}

/** An issue shown apart from the fields: "field: message", or the message alone for '(root)'. */
export function issueText(i: FieldIssueData): string {
  return i.field === '(root)' ? i.message : `${i.field}: ${i.message}`;
}

/** Issues no form field claims ('(root)', fields the form has no input for), as "field: message". */
export function unplacedIssues(issues: readonly FieldIssueData[]): string[] {
  const all = Object.values(FORM_FIELDS).flat() as string[];
  return issues.filter((i) => !all.some((p) => matches(i.field, p))).map(issueText);
}
