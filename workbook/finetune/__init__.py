"""Fine-tuning SmolLM2 on the CPU: ``python -m workbook finetune`` (LoRA with peft).

``data`` (the chat-format files and their checks) imports nothing heavy; ``train`` needs the
fine-tuning extra (``make finetune``: torch, transformers, peft, gguf) and imports it only
when a training run starts.
"""
