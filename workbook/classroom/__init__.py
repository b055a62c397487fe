"""``python -m workbook classroom``: a real JupyterHub for a class on one machine.

* ``hub.Classroom`` starts JupyterHub as root (configurable-http-proxy from npm; HTTPS off
  loopback, ``tls``) with two hub-managed services: the shared ``llama-server`` (continuous
  batching) and ``gateway``, the class's OpenAI-compatible endpoint at ``{hub}/services/llm/v1``.
* Each student is a Unix account of their own (``accounts``) with a password of their own
  (``roster``), logs in through PAM (``authenticator``) and gets a server running as that
  account (``spawner``), in a Python every account may run but none may change (``student_env``);
  the course is copied into their home (``course``).
* ``gateway`` relays only the model API, checks each request's API key -- the student's own
  JupyterHub token -- with the hub (``HubAuth``), keeps at most K requests in flight per
  student (429 + Retry-After) and counts requests and tokens per student in ``usage``.
* ``jupyterhub_config`` is the hub's configuration file; ``cli`` the command.
"""

from .errors import ClassroomError

__all__ = ["ClassroomError"]
