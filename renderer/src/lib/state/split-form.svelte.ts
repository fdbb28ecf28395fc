// The Datasets page's re-split form: validation and test fractions, the split seed and "keep the test split", sent
// to 'dataset/split'. Like the Settings form, it checks each field as the core does (app/use-cases/datasets.ts,
// same messages) before sending, so a value the core would refuse costs no refused request; and whatever the core
// still refuses (ARGS_INVALID naming val, test, seed or name) is shown under those fields.
import { errorIssues, errorMessage, type BridgeApi, type FieldIssueData } from '../api.ts';
import { issueText } from '../field-issues.ts';
import { splitSizes, type DatasetVersion, type Num } from '../types.ts';

export type SplitField = 'val' | 'test' | 'seed' | 'name';
const FIELDS: readonly SplitField[] = ['val', 'test', 'seed', 'name'];

export class SplitForm {
  val = $state<Num>(0.1);
  test = $state<Num>(0.1);
  seed = $state<Num>(0);
  keepTest = $state(false);
  name = $state('');

  issues = $state.raw<FieldIssueData[]>([]);
  /** A failure no field explains (a missing cache, a lost connection). */
  error = $state<string | null>(null);
  submitting = $state(false);
  /** The version the last split made (or found: the same request gives the same version). */
  result = $state.raw<DatasetVersion | null>(null);

  readonly #api: BridgeApi;

  constructor(api: BridgeApi) {
    this.#api = api;
  }

  issuesFor(field: SplitField): string[] {
    return this.issues.filter((i) => i.field === field).map((i) => i.message);
  }

  /** Issues on no field of this form ('(root)', 'id'), as text. */
  get otherIssues(): string[] {
    return this.issues.filter((i) => !FIELDS.includes(i.field as SplitField)).map(issueText);
  }

  /** The result's images per split, and per class and split, for the summary under the form. */
  get resultCounts(): { train: number; val: number; test: number } | null {
    return this.result ? splitSizes(this.result) : null;
  }

  #localIssues(): FieldIssueData[] {
    const issues: FieldIssueData[] = [];
    const fraction = (field: 'val' | 'test', v: Num) => {
      if (v === null) issues.push({ field, message: 'enter a fraction, e.g. 0.1' });
      else if (!(v >= 0 && v < 1)) issues.push({ field, message: 'must be at least 0 and below 1' });
    };
    fraction('val', this.val);
    if (!this.keepTest) fraction('test', this.test);
    if (this.seed === null || !Number.isSafeInteger(this.seed) || this.seed < 0) {
      issues.push({ field: 'seed', message: 'must be a whole number, 0 or more' });
    }
    // The core's cross-field rule and message (on test, or on val when the test split is kept).
    const test = this.keepTest ? 0 : this.test;
    if (issues.length === 0 && (this.val as number) + (test as number) >= 1) {
      issues.push({
        field: this.keepTest ? 'val' : 'test',
        message: `val + test must be below 1, got ${this.val} + ${test}`,
      });
    }
    return issues;
  }

  /** Splits version `id`; resolves to the new version, or undefined with the issues set. */
  async submit(id: string): Promise<DatasetVersion | undefined> {
    this.error = null;
    const local = this.#localIssues();
    this.issues = local;
    if (local.length > 0) return undefined;
    this.submitting = true;
    try {
      const version = await this.#api.invoke('dataset/split', {
        id,
        val: this.val as number,
        // keepTest keeps the parent's test images: the core wants `test` left out then.
        ...(this.keepTest ? {} : { test: this.test as number }),
        seed: this.seed as number,
        keepTest: this.keepTest,
        ...(this.name.trim() ? { name: this.name.trim() } : {}),
      });
      this.result = version;
      return version;
    } catch (error) {
      const issues = errorIssues(error);
      this.issues = issues;
      if (issues.length === 0) this.error = errorMessage(error);
      return undefined;
    } finally {
      this.submitting = false;
    }
  }
}
