namespace R1Orleans.BuiltInModel;

/// <summary>
/// The English text the built-in tokenizer's merges are learned from. Changing a single character changes the merges,
/// the vocabulary and so the whole built-in model: bump <see cref="BuiltInModel.GeneratorVersion"/> when editing it.
/// </summary>
internal static class TrainingText
{
    public const string Text = """
        R1Orleans is a runtime for serving large mixture of experts language models of the DeepSeek-V3 and DeepSeek-R1
        family. It is written in C# on .NET and is built toward a cluster on Microsoft Orleans, with expert parallelism,
        elastic scaling, hot-swapped expert replicas and failover. The model that ships with the silo is small and its
        weights are random: it speaks noise, but every part of the serving pipeline runs on it, from the tokenizer and
        the chat template to the checkpoint reader, the FP8 weights, the latent attention, the routed experts, the
        multi-token prediction layer, the paged cache, the scheduler, the sampler and the HTTP gateway.

        A request starts at the gateway. The gateway speaks the OpenAI protocol: a client sends a list of chat messages
        to the chat completions endpoint, or a prompt to the completions endpoint, and receives the answer in one piece
        or as a stream of server-sent events. The chat template renders the messages into one string, with the user
        turns and the assistant turns marked by their own tokens, and the generation prompt opens a think block so that
        a reasoning model writes its thoughts first and its answer after. The tokenizer turns the text into token ids:
        it splits out the added tokens, cuts the rest into pieces with three regular expressions, maps every byte to a
        printable character, and merges the characters of each piece by the rank of the learned merges.

        The engine then schedules the request. Continuous batching lets many requests share each step: the scheduler
        runs the decode tokens of the requests already running first, then fills the rest of the token budget with
        chunks of the prompts that are waiting. Every sequence keeps its keys and values in a paged cache of fixed-size
        blocks. Multi-head latent attention stores one small latent vector per token per layer instead of full keys and
        values, which makes the cache many times smaller. When the cache runs out of blocks, the newest request is
        preempted and later recomputed from its tokens, so no request is lost and no output changes.

        Each layer of the model normalizes its input, runs attention, adds the result back, normalizes again, and then
        runs either a dense feed-forward block or a mixture of experts. In a mixture of experts layer, a gate scores
        every routed expert for every token, picks the best groups of experts, then the best experts inside those
        groups, and sends the token to each chosen expert. The outputs come back and are combined with the weights of
        the gate, plus the output of the shared expert that every token visits. Experts are where most of the weights
        live, so they are what the cluster spreads across machines: each silo holds a shard of the experts of a layer,
        and the exchange dispatches tokens to the silos that hold their experts and combines the results.

        The load balancer watches how many tokens each expert receives. Hot experts get replicas on other silos, and the
        router spreads their tokens over the replicas; this never changes the output of the model. The bias of the gate
        may also be adjusted, but only when the operator asks for it, because that does change the output, and the
        drift is measured and reported. The placement planner keeps a versioned map of which silo holds which expert,
        loads a new version in the background and switches to it at once, so steps in flight finish on the old map.

        Failover is the reason the request state is kept apart from the machines. A request holds its prompt, the tokens
        it has generated so far and the seed of its sampler. If a silo fails, another silo can prefill the same tokens
        again and continue, and because greedy decoding and seeded sampling are deterministic, the request completes
        with exactly the output it would have had without the fault, or fails with a clear error. Nothing is skipped
        in silence: a missing expert is an error unless a degraded mode is switched on by hand.

        The multi-token prediction layer drafts the token after the next one. The engine verifies the draft in the
        following step, together with the next token, and keeps it when it matches: two tokens for the price of one
        step whenever the draft is right, and the same output either way. The checkpoint stores most linear weights in
        eight-bit floating point with one scale for every block of one hundred and twenty-eight by one hundred and
        twenty-eight values, and the reader turns them back into thirty-two-bit floats as it loads each tensor.

        To run the silo, build the project with the dotnet command and start it. With no arguments it creates this
        small model in the cache directory on the first start, loads it, and listens on the local machine on port
        8000. Send it a chat message with curl or any OpenAI client, and it answers with random words. To serve a real
        checkpoint, pass the model option with the path of a directory that holds the config, the safetensors files,
        the tokenizer and the tokenizer config. Health, models and metrics endpoints tell whether the model is ready,
        which model is served, and how many requests are running or waiting, how long the first token took, and how
        many tokens were generated.

        Questions a user might ask: What is a mixture of experts? How does the router choose an expert? Why is the
        cache paged? What happens when a machine fails? How fast is the first token? How many tokens per second can
        one machine generate? The answers are in the documents of the project, in the architecture page and in the
        benchmarks page, which list the measured numbers next to the limits of memory bandwidth and compute.

        The tokenizer of this small model was learned from the very text you are reading now. It starts from the two
        hundred and fifty-six bytes, writes each byte as a visible character, and then looks for the pair of symbols that
        occurs most often next to each other. That pair becomes a new symbol, and the search begins again, round after
        round, until the vocabulary is large enough. Common words such as the, and, of, model, expert and token end up as
        single symbols, while rare words are spelled with several smaller pieces. Because every rule is written down in
        order, the same text always gives the same merges, and two machines that build the model get the same files.

        Numbers are cut into groups of at most three digits before the merges apply, so 2025 becomes 202 and 5, and a
        long number such as 1234567 becomes 123, 456 and 7. Chinese characters, hiragana and katakana are kept in runs of
        their own. Spaces stay attached to the word that follows them, punctuation is kept apart from letters, and new
        lines are tokens of their own. Special tokens such as the beginning of a sentence, the end of a sentence, the
        user turn, the assistant turn and the think block are never split: they are found in the text first, before any
        other rule runs, and each of them is always one token.

        Sampling decides which token comes next. Greedy decoding always picks the most likely token. Temperature makes
        the distribution flatter or sharper before a token is drawn; top-k keeps only the k most likely tokens, top-p
        keeps the smallest set whose probability adds up to p, and min-p drops the tokens far less likely than the best
        one. Presence, frequency and repetition penalties push the model away from tokens it has already written. A
        seed makes the draws repeatable: the same request with the same seed gives the same answer on any silo, which is
        what lets a request move to another machine in the middle of its answer and still finish in the same words.

        Streaming sends each piece of text as soon as it is known. The detokenizer never cuts a character in half, stop
        strings are held back until it is clear whether they match, and the reasoning inside the think block is sent in
        its own field, apart from the final answer. When the client goes away, the request is cancelled and its cache
        blocks are freed at once. Usage counts the prompt tokens and the completion tokens of every request, and the
        metrics endpoint exports the same numbers for Prometheus, with names that follow those of other serving engines.

        """;
}
