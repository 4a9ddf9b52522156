using System.Globalization;
using R1Orleans.Checkpoint;

namespace R1Orleans.BuiltInModel;

/// <summary>The README.md written beside the built-in model's weights.</summary>
internal static class ModelCard
{
    public static string Text(ModelConfig c, BuiltInTokenizer tokenizer, string fingerprint)
    {
        FormattableString card = $"""
            # {BuiltInModel.Name}

            **The weights of this model are random. Its output is noise.** It was not trained on anything and knows nothing.

            It exists to exercise the R1Orleans serving pipeline end to end on any machine, without downloading a real
            checkpoint: tokenizer, chat template, checkpoint reader, FP8 block dequantization, multi-head latent attention,
            mixture-of-experts routing, the multi-token-prediction (MTP) layer, the paged KV cache, the scheduler, the sampler
            and the OpenAI-compatible HTTP gateway. To serve a real model, start the silo with `--model DIR`.

            ## What is in this directory

            | file | what |
            |---|---|
            | `config.json` | a DeepSeek-V3 architecture (`DeepseekV3ForCausalLM`), scaled down |
            | `model-0000N-of-00002.safetensors`, `model.safetensors.index.json` | the weights, two shards, DeepSeek-V3's tensor names and layout |
            | `tokenizer.json` | byte-level BPE in DeepSeek-V3's format (its pre-tokenizer, decoder and special tokens) |
            | `tokenizer_config.json` | BOS/EOS and DeepSeek-R1's chat template |
            | `generation_config.json` | R1's recommended sampling (temperature 0.6, top-p 0.95) |
            | `{BuiltInModel.MarkerFileName}` | generator version, fingerprint, and every file's size and SHA-256 |

            ## Architecture

            | | |
            |---|---|
            | layers | {c.NumHiddenLayers} ({c.FirstKDenseReplace} dense, {c.NumHiddenLayers - c.FirstKDenseReplace} MoE) plus {c.NumNextnPredictLayers} MTP layer |
            | hidden size | {c.HiddenSize} |
            | attention | MLA, {c.NumAttentionHeads} heads, q LoRA rank {c.QLoraRank}, kv LoRA rank {c.KvLoraRank}, rope dim {c.QkRopeHeadDim} |
            | experts | {c.NRoutedExperts} routed in {c.NGroup} groups ({c.TopkGroup} groups chosen), {c.NumExpertsPerTok} per token, {c.NSharedExperts} shared; noaux_tc sigmoid gate |
            | weights | linear layers FP8 e4m3 with one scale per 128×128 block; norms, embeddings and heads BF16 |
            | context | {c.MaxPositionEmbeddings} positions, YaRN factor {c.RopeScaling?.Factor.ToString(CultureInfo.InvariantCulture)} |
            | vocabulary | {c.VocabSize} (the tokenizer uses {tokenizer.Size}) |

            ## How it was made

            Weights: `SyntheticCheckpoint.Write` with seed {BuiltInModel.Seed}; each tensor's values depend only on the seed and
            its name. Tokenizer: the 256 symbols of GPT-2's byte-level alphabet, plus {tokenizer.Merges.Count} merges learned by
            a small deterministic BPE trainer from a few kilobytes of English text about the project, plus R1's added tokens.
            Generator version {BuiltInModel.GeneratorVersion}, fingerprint `{fingerprint}`. Generating again writes
            byte-identical files.

            License: none needed; there is nothing in it.

            """;
        return card.ToString(CultureInfo.InvariantCulture);
    }
}
