import { describe, expect, it } from 'vitest';

import { issuesFor, unplacedIssues } from '../../../renderer/src/lib/field-issues.ts';

const issues = [
  { field: 'train.budgetPerSample', message: 'LR uses antithetic pairs' },
  { field: 'train.nMin', message: '3 exceeds budgetPerSample 2' },
  { field: 'train.optimizer.lr', message: 'Too small: expected number to be >0' },
  { field: 'modelId', message: 'model 9 does not exist' },
  { field: 'train.clipNorm', message: 'must be positive' },
  { field: '(root)', message: 'must be an object' },
  { field: 'train.allocator.lr', message: 'must be positive' },
];

describe('issuesFor', () => {
  it('puts each issue next to the field that claims it', () => {
    expect(issuesFor(issues, 'budget')).toEqual(['LR uses antithetic pairs', '3 exceeds budgetPerSample 2']);
    expect(issuesFor(issues, 'lr')).toEqual(['Too small: expected number to be >0']);
    expect(issuesFor(issues, 'model')).toEqual(['model 9 does not exist']);
    expect(issuesFor(issues, 'allocator')).toEqual(['must be positive']);
    expect(issuesFor(issues, 'seed')).toEqual([]);
  });

  it('does not match a prefix that is only a prefix of the name', () => {
    expect(issuesFor([{ field: 'train.seedling', message: 'x' }], 'seed')).toEqual([]);
  });
});

describe('unplacedIssues', () => {
  it('lists what no field claims, with the field named', () => {
    expect(unplacedIssues(issues)).toEqual(['train.clipNorm: must be positive', 'must be an object']);
  });
});
