"""Topics get a group, so the signup form can list them under a few headings instead of
36 cards in alphabetical order; the default topics are assigned here, curators change
them in the admin afterwards. Topics a curator added (unknown slugs) stay without one."""

from django.db import migrations, models

GROUPS = {
    "language": [
        "large-language-models", "reasoning", "retrieval-rag", "agents", "code-generation",
        "nlp-translation", "hallucination-factuality", "speech-audio",
    ],
    "vision": [
        "diffusion-models", "image-video-generation", "3d-vision", "multimodal", "video",
        "computer-vision", "robotics",
    ],
    "learning": [
        "reinforcement-learning", "federated-learning", "peft", "graph-learning", "time-series",
        "continual-adaptation", "optimization-training", "scaling-laws", "benchmarks-evaluation",
        "datasets-data",
    ],
    "systems": [
        "quantization", "mixture-of-experts", "efficient-inference", "training-systems",
        "efficient-architectures",
    ],
    "science": ["medical-imaging", "healthcare", "ai-for-science"],
    "safety": ["safety-alignment", "interpretability", "privacy-security"],
}


def assign_groups(apps, schema_editor):
    Topic = apps.get_model("digest", "Topic")
    for group, slugs in GROUPS.items():
        Topic.objects.filter(slug__in=slugs, group="").update(group=group)


def clear_groups(apps, schema_editor):
    apps.get_model("digest", "Topic").objects.update(group="")


class Migration(migrations.Migration):

    dependencies = [
        ("digest", "0014_paper_topics"),
    ]

    operations = [
        migrations.AddField(
            model_name="topic",
            name="group",
            field=models.CharField(
                blank=True,
                choices=[
                    ("language", "Language"),
                    ("vision", "Vision and robotics"),
                    ("learning", "Learning methods"),
                    ("systems", "Systems and efficiency"),
                    ("science", "Science and health"),
                    ("safety", "Safety"),
                ],
                help_text="Where the signup form lists it; topics without a group come last, under “More topics”.",
                max_length=20,
            ),
        ),
        migrations.RunPython(assign_groups, clear_groups),
    ]
