"""dspy_ash.programs: stored programs made into engine modules.

Program logic above both the engine and the store: a declarative spec is validated here
(`validate_spec`) before the store keeps it, built into a runnable module (`build_program`), and a
stored program, code or declarative, becomes a fresh module loaded with a version's state
(`instantiate`). The store itself only keeps rows; this is what the actions call.

    spec = validate_spec(raw).model_dump(mode="json")
    program = await repos.programs.create_program(s, tenant_id=t, actor="me", name="qa", spec=spec)
    module = instantiate(program, state=version.state)
"""

from dspy_ash.programs._build import build_program
from dspy_ash.programs._declarative import ProgramSpec, validate_spec
from dspy_ash.programs._instantiate import instantiate

__all__ = ["ProgramSpec", "build_program", "instantiate", "validate_spec"]
