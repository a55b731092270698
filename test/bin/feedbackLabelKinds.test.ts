// `retrain feedback labelling --kinds`: the list, or none; anything else is a usage error that names the kind.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { feedbackLabelKinds } from '../../bin/commands/feedbackLabels';
import { CliError, EXIT } from '../../bin/cli';

test('--kinds: correction,override, either alone, or none; an unknown kind is a usage error naming it', () => {
  assert.deepEqual(feedbackLabelKinds('correction,override'), ['correction', 'override']);
  assert.deepEqual(feedbackLabelKinds(' override , override '), ['override']);
  assert.deepEqual(feedbackLabelKinds('none'), []);
  assert.throws(() => feedbackLabelKinds('correction,thumbs'), (e) => e instanceof CliError && e.exitCode === EXIT.usage && /unknown kind\(s\) thumbs/.test(e.message));
  assert.throws(() => feedbackLabelKinds(','), (e) => e instanceof CliError && /empty/.test(e.message));
});
