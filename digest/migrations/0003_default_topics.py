"""The default curated topics. Curators edit them in the admin afterwards.

Keyword phrases are matched as described in `digest.text`: stemmed, whole words,
hyphen and space alike; phrases with two or more capitals ("MoE", "LoRA") match that
word exactly; a phrase in double quotes matches its words exactly (plural allowed), for
words whose stem is shared with unrelated ones ("adapter" and "adaptation").

The data is written out here rather than imported, so that this migration keeps doing
the same thing whatever later becomes of the app's code.
"""

from django.db import migrations

TOPICS = [
    (
        "Large language models", "large-language-models",
        "Training, behaviour and use of large language models and chat assistants.",
        [
            "large language model", "LLM", "large language models", "language model",
            "GPT", "GPT-4", "GPT-4o", "ChatGPT", "InstructGPT", "LLaMA", "Llama 2", "Llama 3", "Mistral",
            "Mixtral", "Qwen", "Gemini", "Claude", "PaLM", "OPT", "Falcon", "Vicuna", "Phi-2",
            "in-context learning", "instruction tuning", "instruction-tuned", "instruction following",
            "supervised fine-tuning", "SFT", "pretrained language model", "PLM", "decoder-only",
            "next-token prediction", "chatbot", "chat model",
        ],
    ),
    (
        "Reasoning", "reasoning",
        "How models reason: chain-of-thought, test-time compute, math and multi-step problem solving.",
        [
            "reasoning", "chain-of-thought", "chain of thought", "CoT", "tree of thoughts", "graph of thoughts",
            "graph-of-thought", "multi-step reasoning", "mathematical reasoning", "math reasoning",
            "commonsense reasoning", "logical reasoning", "multi-hop reasoning", "test-time compute",
            "inference-time compute", "inference-time computation", "test-time scaling", "self-consistency",
            "best-of-N", "process reward model", '"verifier"', "step-by-step", "o1", "GSM8K", "MATH benchmark",
            "problem-solving", "self-refine", "rationale", "thought process",
        ],
    ),
    (
        "Quantization", "quantization",
        "Low-bit weights and activations: post-training quantization, quantization-aware training.",
        [
            "quantization", "quantized", "quantize", "quantizing", "post-training quantization", "PTQ",
            "quantization-aware training", "QAT", "weight-only quantization", "low-bit", "low precision",
            "ultra-low precision", "1-bit", "2-bit", "3-bit", "4-bit", "8-bit", "INT4", "INT8", "FP8", "FP4",
            "W4A16", "W8A8", "GPTQ", "AWQ", "SmoothQuant", "QLoRA", "mixed-precision", "binarization",
            "binarized", "binary neural network",
        ],
    ),
    (
        "Mixture of experts", "mixture-of-experts",
        "Sparse expert models: routing, expert specialisation, MoE training and serving.",
        [
            "mixture of experts", "mixture-of-experts", "MoE", "SMoE", "sparse MoE", "sparsely-gated",
            "sparsely activated", "sparse activation", "expert routing", "token routing", "top-k routing",
            "router", "routed experts", "shared experts", "expert specialization", "expert parallelism",
            "gating network", "sparse gate", "dense-to-sparse", "upcycling", "Switch Transformer",
            "GShard", "load balancing",
        ],
    ),
    (
        "Diffusion models", "diffusion-models",
        "Diffusion and flow-based generative models: training, sampling, guidance, control.",
        [
            "diffusion model", "diffusion models", "diffusion", "diffusion-based", "denoising diffusion",
            "latent diffusion", "stable diffusion", "SDXL", "DDPM", "DDIM", "score-based", "score matching",
            "diffusion transformer", "DiT", "flow matching", "rectified flow", "consistency model",
            "classifier-free guidance", "ControlNet", "denoiser", "denoising process", "noise schedule",
            "diffusion prior", "video diffusion", "sampling steps", "one-step",
        ],
    ),
    (
        "Image and video generation", "image-video-generation",
        "Text-to-image and text-to-video generation, image editing, personalisation and animation.",
        [
            "text-to-image", "text-to-video", "image generation", "video generation", "image synthesis",
            "image editing", "text-guided editing", "style transfer", "personalized generation",
            "identity-preserving", "human image animation", "image animation", "inpainting", "GAN",
            "generative adversarial network", "StyleGAN", "DALL-E", "Midjourney", "Imagen", "FID",
            "generated images", "generated videos", "visual content creation",
        ],
    ),
    (
        "3D vision", "3d-vision",
        "3D reconstruction and understanding: NeRF, Gaussian splatting, point clouds, 3D pose.",
        [
            "3D", "NeRF", "neural radiance field", "neural radiance fields", "Gaussian splatting", "3DGS",
            "point cloud", "point clouds", "LiDAR", "mesh", "novel view synthesis", "3D reconstruction",
            "depth estimation", "multi-view", "stereo", "SLAM", "voxel", "SMPL", "human pose",
            "pose estimation", "motion capture", "3D scene", "3D object", "ShapeNet", "KITTI", "SemanticKITTI",
            "occupancy", "3D human", "egocentric",
        ],
    ),
    (
        "Speech and audio", "speech-audio",
        "Speech recognition and synthesis, voice conversion, audio and music understanding and generation.",
        [
            "speech", "audio", "speech recognition", "automatic speech recognition", "ASR", "text-to-speech",
            "TTS", "speech synthesis", "voice conversion", "voice", "speaker", "spoken", "acoustic",
            "vocoder", "spectrogram", "mel-spectrogram", "prosody", "phoneme", "pronunciation", "timbre",
            "music", "sound event detection", "environmental sound", "sound synthesis", "text-to-audio", "audio generation", "audio classification", "Whisper",
            "AudioSet", "word error rate", "WER",
        ],
    ),
    (
        "Federated learning", "federated-learning",
        "Training across clients without pooling their data: federated optimisation, privacy, heterogeneity.",
        [
            "federated learning", "federated", "FL", "FedAvg", "federated averaging", "clients",
            "client-side", "server-side", "non-IID", "client heterogeneity", "cross-silo", "cross-device",
            "decentralized training", "local updates", "model aggregation",
        ],
    ),
    (
        "AI safety and alignment", "safety-alignment",
        "Red-teaming, jailbreaks, backdoors, alignment with human preferences and unlearning harmful knowledge.",
        [
            "AI safety", "safety", "LLM safety", "safety alignment", "safety-aligned", "LLM alignment",
            "human alignment", "value alignment", "preference alignment", "aligned with human", "human preferences", "preference optimization", "RLHF",
            "reinforcement learning from human feedback", "DPO", "direct preference optimization",
            "red-teaming", "red teaming", "jailbreak", "jailbreaking", "adversarial prompts", "prompt injection",
            "backdoor", "backdoor attack", "trojan", "harmful", "harmfulness", "harms", "guardrails", "toxicity",
            "attack success rate", "adversarial attack", "adversarial attacks", "adversarial robustness",
            "adversarially robust", "adversarial vulnerabilities", "defense", "defenses", "unlearning",
            "machine unlearning", "reward hacking", "misalignment", "unalignment", "trustworthy",
        ],
    ),
    (
        "Efficient inference", "efficient-inference",
        "Making trained models cheaper to run: KV cache, speculative decoding, pruning, distillation, on-device.",
        [
            "efficient inference", "inference efficiency", "inference speed", "inference cost", "inference latency",
            "KV cache", "key-value cache", "speculative decoding", "pruning", "pruned", "structured pruning",
            "unstructured pruning", "token pruning", "model compression", "compression", "compress",
            "knowledge distillation", "distillation", "sparsity", "sparsification", "early exit",
            "latency", "throughput", "memory footprint", "on-device", "edge devices", "mobile devices",
            "FlashAttention", "offloading", "serving", "memory-efficient", "speedup",
        ],
    ),
    (
        "Parameter-efficient fine-tuning", "peft",
        "Adapting large models by training a few parameters: LoRA, adapters, prompt and prefix tuning.",
        [
            "parameter-efficient fine-tuning", "PEFT", "parameter-efficient", "parameter efficiency",
            "parameter-efficient transfer learning", "PETL", "LoRA", "QLoRA", "low-rank adaptation",
            "low rank adaptation", '"adapter"', '"adapters"', "adapter tuning", "adapter layers",
            "prompt tuning", "prefix tuning", "prefix-tuning", "soft prompt", "visual prompt tuning", "VPT",
            "visual prompting", "visual prompt", "prompt learning", "learnable prompt", "learnable prompts", "prompt tokens", "P-tuning", "BitFit", "IA3",
            "trainable parameters", "tunable parameters", "frozen backbone", "lightweight fine-tuning",
        ],
    ),
    (
        "Scaling laws", "scaling-laws",
        "How performance grows with parameters, data and compute: scaling laws and compute-optimal training.",
        [
            "scaling law", "scaling laws", "neural scaling", "power law", "power-law", "compute-optimal",
            "Chinchilla", "scaling behavior", "scaling behaviors", "IsoFLOPs", "over-trained", "over-training",
            "scaling up", "model scaling", "scaling strategy", "scale reliably", "emergent abilities",
            "data-constrained", "token-crisis",
        ],
    ),
    (
        "Medical imaging", "medical-imaging",
        "Machine learning for medical images: radiology, MRI, CT, X-ray, pathology.",
        [
            "medical imaging", "medical image", "medical images", "medical image computing", "MRI",
            "magnetic resonance", "CT", "computed tomography", "X-ray", "chest X-ray", "CXR", "radiology",
            "radiological", "radiograph", "radiographs", "radiologist", "radiologists", "ultrasound",
            "histopathology", "whole slide", "pathology", "dermatology", "fundus", "retinal", "lesion",
            "brain tumor", "tumor growth", "scan-time", "MICCAI", "medical image generation",
        ],
    ),
    (
        "Healthcare and clinical AI", "healthcare",
        "Models for medicine beyond images: clinical notes, health records, biomedical text.",
        [
            "clinical", "healthcare", "medical", "patient", "patients", "electronic health records", "EHR",
            "clinical notes", "doctors", "physicians", "biomedical", "diagnosis", "tumor documentation",
            "hospital", "ICD-10", "medicine",
        ],
    ),
    (
        "Robotics and embodied AI", "robotics",
        "Robots that perceive and act: manipulation, locomotion, navigation, autonomous driving.",
        [
            "robot", "robots", "robotic", "robotics", "manipulation", "grasping", "embodied",
            "locomotion", "navigation", "sim-to-real", "autonomous driving", "self-driving",
            "autonomous vehicles", "imitation learning", "visuomotor", "vision-language-action", "VLA",
            "humanoid", "legged", "trajectory prediction", "pedestrian",
        ],
    ),
    (
        "Reinforcement learning", "reinforcement-learning",
        "Learning from reward: policies, bandits, offline RL and RL for language models.",
        [
            "reinforcement learning", "RL", "policy gradient", "PPO", "Q-learning", "Q-function",
            "value function", "reward", "rewards", "reward model", "multi-armed bandit", "bandit", "bandits",
            "regret", "offline RL", "Markov decision process", "MDP", "actor-critic", "exploration",
            "policy optimization", "GRPO",
        ],
    ),
    (
        "Graph neural networks", "graph-learning",
        "Learning on graphs: GNNs, knowledge graphs, node and link prediction.",
        [
            "graph neural network", "graph neural networks", "GNN", "GCN", "graph convolution",
            "message passing", "node classification", "link prediction", "link predictors",
            "knowledge graph", "knowledge graphs", "graph learning", "graph clustering", "graph structure",
            "graph transformer", "heterophily", "over-smoothing", "graph representation", "hypernetwork",
            "graph lottery ticket",
        ],
    ),
    (
        "Retrieval and RAG", "retrieval-rag",
        "Search and retrieval-augmented generation: retrievers, rankers, generative retrieval.",
        [
            "retrieval-augmented generation", "retrieval augmented generation", "retrieval-augmented",
            "retrieval augmented", "RAG", "information retrieval", "IR", "dense retrieval", "retrieval",
            "retriever", "re-ranking", "reranking", "reranker", '"ranker"', '"ranking"', "document retrieval",
            "passage retrieval", "passage ranking", "generative retrieval", "differentiable search index",
            "DSI", "web search", "search engine", "MS MARCO", "BEIR", "BM25", "document identifiers",
        ],
    ),
    (
        "Multimodal and vision-language", "multimodal",
        "Models that combine images, video, audio and text: vision-language models, multimodal LLMs.",
        [
            "multimodal", "multi-modal", "vision-language", "vision language model", "VLM", "VLMs", "MLLM",
            "LVLM", "multimodal large language model", "CLIP", "image-text", "language-image", "visual question answering",
            "VQA", "image captioning", "captioning", "LLaVA", "BLIP", "Flamingo", "visual grounding",
            "cross-modal", "modalities", "modality", "omni-modal", "vision-LLM",
        ],
    ),
    (
        "Agents and tool use", "agents",
        "LLM agents that plan and act: tool use, function calling, multi-agent systems.",
        [
            "agent", "agents", "agentic", "LLM agent", "autonomous agent", "multi-agent", "tool use",
            "tool-augmented", "augmented language models", "tool learning", "tool calls", "tool calling",
            "function calling", "external tools", "web agent", "GUI agent", "ReAct", "agent workflow",
            "task planning", "long-horizon",
        ],
    ),
    (
        "Code generation", "code-generation",
        "Models that write and understand code: code LLMs, program synthesis, software engineering.",
        [
            "code generation", "program synthesis", "code LLM", "code language model", "code language models",
            "code completion", "coding", "programming", "programming languages", "software engineering",
            "unit test generation", "unit tests", "HumanEval", "MBPP", "SWE-bench", "code repair", "Copilot",
            "code models", "source code",
        ],
    ),
    (
        "Video understanding", "video",
        "Video models: understanding, reasoning, representation, compression and generation of video.",
        [
            "video", "videos", "video understanding", "video reasoning", "video generation", "text-to-video",
            "video diffusion", "video compression", "video question answering", "action recognition",
            "temporal modeling", "frames", "frame", "video-language", "long video", "animation",
        ],
    ),
    (
        "Computer vision", "computer-vision",
        "Recognition, detection, segmentation, tracking and image restoration.",
        [
            "computer vision", "object detection", "detector", "detectors", "semantic segmentation",
            "instance segmentation", "segmentation", "image classification", "ImageNet", "COCO", "ADE20K",
            "vision transformer", "vision transformers", "ViT", "convolutional neural network", "CNN",
            "YOLO", "backbone", "tracking", "object tracking", "super-resolution", "image restoration",
            "low-light", "image enhancement", "recognition", "mIoU",
        ],
    ),
    (
        "Benchmarks and evaluation", "benchmarks-evaluation",
        "New benchmarks, evaluation methods and empirical studies of what models can do.",
        [
            "benchmark", "benchmarks", "evaluation", "evaluating", "evaluate", "empirical study",
            "comprehensive study", "systematic evaluation", "leaderboard", "LLM-as-a-judge", "evaluation metric",
            "human evaluation", "diagnostic benchmark", "testbed", "unsupervised evaluation",
        ],
    ),
    (
        "Time series", "time-series",
        "Forecasting, anomaly detection and representation learning for temporal and spatiotemporal data.",
        [
            "time series", "time-series", "forecasting", "forecast", "anomaly detection", "temporal data",
            "spatiotemporal", "spatio-temporal", "sequential data", "neural spiking", "trajectories",
        ],
    ),
    (
        "NLP and machine translation", "nlp-translation",
        "Language technology: translation, multilingual models, summarisation, extraction, QA.",
        [
            "natural language processing", "NLP", "machine translation", "neural machine translation", "NMT",
            "translation", "multilingual", "cross-lingual", "low-resource languages", "BLEU", "summarization",
            "information extraction", "named entity recognition", "relation extraction",
            "grammatical error correction", "question answering", "text classification", "sentiment",
            "vocabulary", "tokenization", '"tokenizer"', "text generation", "controllable text generation",
            "bilingual", "Chinese",
        ],
    ),
    (
        "Interpretability", "interpretability",
        "Understanding what models compute: mechanistic interpretability, attribution, probing, editing.",
        [
            "interpretability", "interpretable", "interpreting", "explainability", "explainable", "XAI",
            "mechanistic interpretability", "mechanistic", "attribution", "saliency", "probing", "probe",
            "circuits", "causal tracing", "influence functions", "sparse autoencoder", "concept vectors",
            "attention heads", "localization", "knowledge localization", "model editing", "knowledge editing",
            "information flow", "faithfulness",
        ],
    ),
    (
        "Optimization and training", "optimization-training",
        "How models are trained: optimisers, learning rates, training dynamics, model merging.",
        [
            "optimizer", "optimizers", "optimizer states", "Adam", "SGD", "stochastic gradient descent",
            "learning rate", "hyperparameter", "hyperparameters", "hyperparameter optimization", "batch size",
            "convergence", "training dynamics", "loss landscape", "gradient", "gradients", "second-order",
            "Hessian", "sharpness-aware", "weight decay", "initialization", "model merging", "merging",
            "linear mode connectivity", "weight averaging", "regularization", "overfitting", "training recipe",
        ],
    ),
    (
        "Training systems and infrastructure", "training-systems",
        "Distributed training and serving at scale: parallelism, checkpointing, memory, fault tolerance.",
        [
            "distributed training", "data parallelism", "tensor parallelism", "pipeline parallelism",
            "model parallelism", "parallelism", "3D parallelism", "checkpointing", "checkpoint",
            "fault tolerance", "fault-tolerance", "GPU memory", "CPU memory", "offloading", "DeepSpeed",
            "ZeRO", "Megatron", "communication overhead", "communication", "gradient compression",
            "throughput", "GPUs", "HPC", "I/O", "heterogeneous computing", "cluster",
        ],
    ),
    (
        "Datasets and data curation", "datasets-data",
        "New datasets and how training data is collected, filtered, mixed and synthesised.",
        [
            "dataset", "datasets", "new dataset", "corpus", "data curation", "data quality", "data filtering",
            "deduplication", "synthetic data", "data-centric", "pretraining data", "training data",
            "instruction dataset", "data composition", "data mixture", "data collection", "annotation",
            "annotated", "crawling", "metadata", "data engineering",
        ],
    ),
    (
        "Continual learning and adaptation", "continual-adaptation",
        "Models that keep learning or adapt to new domains: continual learning, test-time and domain adaptation.",
        [
            "continual learning", "lifelong learning", "catastrophic forgetting", "forgetting",
            "test-time adaptation", "TTA", "CTTA", "continual test-time adaptation", "domain adaptation",
            "unsupervised domain adaptation", "UDA", "domain generalization", "out-of-distribution", "OOD",
            "distribution shift", "distribution shifts", "transfer learning", "transferability", "negative transfer",
            "continual pre-training", "incremental",
        ],
    ),
    (
        "Privacy and security", "privacy-security",
        "Private and secure machine learning: differential privacy, secure inference, memorisation, proofs.",
        [
            "privacy", "private", "privacy-preserving", "differential privacy", "secure inference",
            "secure multiparty computation", "MPC", "homomorphic encryption", "encrypted", "encryption",
            "membership inference", "memorization", "zero-knowledge", "zero-knowledge proof", "watermark",
            "watermarking", "intellectual property", "security",
        ],
    ),
    (
        "Efficient architectures", "efficient-architectures",
        "Alternatives to quadratic attention and lighter networks: state space models, linear attention, long context.",
        [
            "state space model", "state space models", "SSM", "Mamba", "linear attention", "sparse attention",
            "subquadratic", "long context", "long-context", "long sequences", "long-range", "efficient transformer",
            "RWKV", "recurrent", "linearizing", "attention mechanism", "self-attention", "mobile",
            "lightweight", "neural architecture search", "NAS", "MobileNet", "EfficientNet",
        ],
    ),
    (
        "Hallucination and factuality", "hallucination-factuality",
        "When models make things up: hallucination detection, grounding, factual knowledge and knowledge conflicts.",
        [
            "hallucination", "hallucinations", "hallucinated", "factuality", "factual", "faithfulness",
            "unfaithful", "grounding", "knowledge conflicts", "parametric knowledge", "factual knowledge",
            "closed-book", "knowledge boundaries", "abstaining",
        ],
    ),
    (
        "AI for science", "ai-for-science",
        "Machine learning for the sciences: PDEs and neural operators, physics, chemistry, biology, astronomy.",
        [
            "neural operator", "neural operators", "PDE", "PDEs", "partial differential equations",
            "physics-informed", "turbulence", "turbulent", "Navier-Stokes", "molecule", "molecular", "protein",
            "drug discovery", "materials", "climate", "weather", "cosmology", "cosmological", "astrophysical",
            "neuroscience", "scientific machine learning", "inverse problem", "simulation",
        ],
    ),
]


def add_topics(apps, schema_editor):
    Topic = apps.get_model("digest", "Topic")
    for name, slug, description, keywords in TOPICS:
        # Curators may have made a topic of that name or slug by hand already: keep theirs.
        if Topic.objects.filter(slug=slug).exists() or Topic.objects.filter(name=name).exists():
            continue
        Topic.objects.create(name=name, slug=slug, description=description, keywords="\n".join(keywords))


def remove_topics(apps, schema_editor):
    Topic = apps.get_model("digest", "Topic")
    Topic.objects.filter(slug__in=[slug for _, slug, _, _ in TOPICS]).delete()


class Migration(migrations.Migration):

    dependencies = [("digest", "0002_initial")]

    operations = [migrations.RunPython(add_topics, remove_topics)]
