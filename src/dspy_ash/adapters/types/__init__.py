"""Special field types the adapters understand: conversation history, tools, and `dspy.Type` values that
format themselves as content parts (images, audio, files, documents) or text (code, reasoning)."""

from dspy_ash.adapters.types._audio import Audio
from dspy_ash.adapters.types._base_type import Type
from dspy_ash.adapters.types._citation import Citations
from dspy_ash.adapters.types._code import Code
from dspy_ash.adapters.types._document import Document
from dspy_ash.adapters.types._file import File
from dspy_ash.adapters.types._history import History
from dspy_ash.adapters.types._image import Image
from dspy_ash.adapters.types._reasoning import Reasoning

__all__ = ["Audio", "Citations", "Code", "Document", "File", "History", "Image", "Reasoning", "Type"]
