"""Fine-tuning: LoRA, QLoRA or full training on a prepared dataset, exported for serving.

Heavy libraries (torch, transformers, peft) load inside the functions that use them, so
importing this package is cheap.
"""
