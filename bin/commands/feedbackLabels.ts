// `retrain feedback labelling <model> [--kinds correction,override|none]`: which feedback kinds become
// training labels for a model (source 'feedback', selected by the user). Without --kinds it shows the setting.
import { Command } from 'commander';
import { CliError, EXIT, api, output, withClient, type ClientOpts } from '../cli';

const KINDS = ['correction', 'override'] as const;
type Kind = (typeof KINDS)[number];

/** `--kinds correction,override` or `none` (off); names what is wrong otherwise. */
export function feedbackLabelKinds(text: string): Kind[] {
  if (text.trim() === 'none') return [];
  const kinds = text.split(',').map((k) => k.trim()).filter(Boolean);
  const bad = kinds.filter((k) => !(KINDS as readonly string[]).includes(k));
  if (bad.length || kinds.length === 0) {
    throw new CliError(`--kinds: ${bad.length ? `unknown kind(s) ${bad.join(', ')}` : 'empty'}; give ${KINDS.join(',')} (any of them) or none`, EXIT.usage);
  }
  return [...new Set(kinds)] as Kind[];
}

export function registerFeedbackLabelling(feedback: Command): void {
  withClient(feedback.command('labelling').argument('<model>'))
    .description("which feedback kinds become training labels (source 'feedback'): show it, or set it with --kinds")
    .option('--kinds <list>', 'correction,override (any of them), or none to turn it off')
    .action(async (model: string, o: ClientOpts & { kinds?: string }) => {
      const client = api(o);
      const shown = (kinds: string[]) => (kinds.length ? `${model}: feedback of kind ${kinds.join(', ')} becomes training labels` : `${model}: feedback never becomes a training label`);
      if (o.kinds === undefined) {
        const current = await client.feedback.labelling.query({ model });
        output(o, current, () => shown(current.kinds));
        return;
      }
      const set = await client.feedback.setLabelling.mutate({ model, kinds: feedbackLabelKinds(o.kinds) });
      output(o, set, () => `${shown(set.kinds)} (was: ${set.previous.length ? set.previous.join(', ') : 'none'})`);
    });
}
