"""Three more default topics with sharper phrases, from the judged set (see 0005):
"exploration" stems to "explore", so every paper "Exploring ..." was a reinforcement
learning paper; "compression" and "memory-efficient" found video compression and
memory-efficient *training*; "localization" found object localization and "interpreting"
found "interpreting chest X-rays". Quoted phrases match only as written.

A topic is only changed if a curator has not edited its phrases since 0003.
"""

from django.db import migrations

CHANGES = {
    "reinforcement-learning": (
        ["reinforcement learning", "RL", "policy gradient", "PPO", "Q-learning", "Q-function", "value function",
         "reward", "rewards", "reward model", "multi-armed bandit", "bandit", "bandits", "regret", "offline RL",
         "Markov decision process", "MDP", "actor-critic", "exploration", "policy optimization", "GRPO"],
        ["reinforcement learning", "RL", "policy gradient", "PPO", "Q-learning", "Q-function", "value function",
         "reward", "rewards", "reward model", "multi-armed bandit", "bandit", "bandits", "regret", "offline RL",
         "Markov decision process", "MDP", "actor-critic", '"exploration-exploitation"', "policy optimization",
         "GRPO", "RLHF"],
    ),
    "efficient-inference": (
        ["efficient inference", "inference efficiency", "inference speed", "inference cost", "inference latency",
         "KV cache", "key-value cache", "speculative decoding", "pruning", "pruned", "structured pruning",
         "unstructured pruning", "token pruning", "model compression", "compression", "compress",
         "knowledge distillation", "distillation", "sparsity", "sparsification", "early exit", "latency",
         "throughput", "memory footprint", "on-device", "edge devices", "mobile devices", "FlashAttention",
         "offloading", "serving", "memory-efficient", "speedup"],
        ["efficient inference", "inference efficiency", "inference speed", "inference cost", "inference latency",
         "KV cache", "key-value cache", "speculative decoding", "pruning", "pruned", "structured pruning",
         "unstructured pruning", "token pruning", "model compression", "compress LLMs", "compressed model",
         "knowledge distillation", "distillation", "sparsification", "early exit", "inference memory",
         "GPU memory usage", "memory footprint", "on-device", "FlashAttention", "serving",
         "post-training quantization", "weight quantization", "quantized model", "inference acceleration"],
    ),
    "interpretability": (
        ["interpretability", "interpretable", "interpreting", "explainability", "explainable", "XAI",
         "mechanistic interpretability", "mechanistic", "attribution", "saliency", "probing", "probe", "circuits",
         "causal tracing", "influence functions", "sparse autoencoder", "concept vectors", "attention heads",
         "localization", "knowledge localization", "model editing", "knowledge editing", "information flow",
         "faithfulness"],
        ["interpretability", "interpretable", "explainability", "explainable", "XAI",
         "mechanistic interpretability", "mechanistic", "attribution", "saliency", "probing", "probe", "circuits",
         "causal tracing", "influence functions", "sparse autoencoder", "concept vectors", "attention heads",
         "knowledge localization", "model editing", "knowledge editing", "information flow", "internal states",
         "internal representations"],
    ),
}


def _update(apps, forwards: bool) -> None:
    Topic = apps.get_model("digest", "Topic")
    for slug, (old, new) in CHANGES.items():
        before, after = (old, new) if forwards else (new, old)
        topic = Topic.objects.filter(slug=slug).first()
        if topic and [line.strip() for line in topic.keywords.splitlines() if line.strip()] == before:
            topic.keywords = "\n".join(after)
            topic.save(update_fields=["keywords"])


class Migration(migrations.Migration):

    dependencies = [("digest", "0005_sharper_topic_phrases")]

    operations = [migrations.RunPython(lambda apps, _: _update(apps, True), lambda apps, _: _update(apps, False))]
