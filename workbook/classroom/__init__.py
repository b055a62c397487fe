"""``python -m workbook classroom``: a real JupyterHub for a class on one machine.

* ``hub.Classroom`` starts JupyterHub (configurable-http-proxy from npm, accounts
  student1..studentN behind one workshop password, a home and a copy of the course per
  student) with two hub-managed services: the shared ``llama-server`` (continuous batching)
  and ``gateway``, the class's OpenAI-compatible endpoint at ``{hub}/services/llm/v1``.
* ``gateway`` checks each request's API key -- the student's own JupyterHub token -- with the
  hub (``HubAuth``), keeps at most K requests in flight per student (429 + Retry-After) and
  counts requests and tokens per student in ``usage`` (sqlite beside the hub's database).
* ``jupyterhub_config`` is the hub's configuration file; ``cli`` the command.
"""

from .errors import ClassroomError

__all__ = ["ClassroomError"]
