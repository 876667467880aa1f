"""Special field types the adapters understand: conversation history, tools, and `dspy.Type` values that
format themselves as content parts (images, audio, files, documents) or text (code, reasoning)."""

from dspy_ash.adapters.types.audio import Audio
from dspy_ash.adapters.types.base_type import Type
from dspy_ash.adapters.types.citation import Citations
from dspy_ash.adapters.types.code import Code
from dspy_ash.adapters.types.document import Document
from dspy_ash.adapters.types.file import File
from dspy_ash.adapters.types.history import History
from dspy_ash.adapters.types.image import Image
from dspy_ash.adapters.types.reasoning import Reasoning

__all__ = ["Audio", "Citations", "Code", "Document", "File", "History", "Image", "Reasoning", "Type"]
