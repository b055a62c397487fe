# JupyterHub's configuration for `python -m workbook classroom` (`jupyterhub -f <this file>`).
#
# JupyterHub runs this file with `c`, its config object, in scope. What changes from one class
# to the next (ports, folders, the students) comes from the JSON file named by
# WORKBOOK_CLASSROOM_SETTINGS, which `workbook.classroom.hub.Classroom` writes; the secrets
# (passwords, the instructor's token, the engine's key) stay in their own mode-600 files in
# STATE, a folder only root may enter.
#
# A class (run as root): JupyterHub's default pairing, PAM logins and LocalProcessSpawner, with
# one Unix account per student -- each server runs as its student, never as root.
# A demo (--demo): today's single-account mode, one shared password, no isolation.
import json
import os
import signal
import sys
from pathlib import Path

c = get_config()  # noqa: F821 -- provided by JupyterHub when it loads this file

# A hub started with SIGINT ignored (a background job of a non-interactive shell: `nohup ... &`,
# a CI step) would hand that on to every service it starts before it installs its own handler:
# the idle culler then ignores the hub's stop signal, and the hub's shutdown waits 30 s for it
# (JupyterHub's interrupt timeout) before it terminates it. Python's own handler here means its
# children start with the default again (exec resets a handled signal, never an ignored one).
signal.signal(signal.SIGINT, signal.default_int_handler)

settings = json.loads(Path(os.environ["WORKBOOK_CLASSROOM_SETTINGS"]).read_text())
state = Path(settings["state"])
students = settings["students"]
marker = {"WORKBOOK_CLASSROOM_RUN": os.environ["WORKBOOK_CLASSROOM_RUN"]}
# Tests and a checkout run the workbook from its source folder: every child must import the same one.
passthrough = {name: os.environ[name] for name in ("PYTHONPATH",) if name in os.environ}
hub_only = {name: os.environ[name] for name in ("WORKBOOK_CACHE_DIR",) if name in os.environ}

# -- where the hub listens: the class reaches only the proxy; everything else is loopback
c.JupyterHub.ip = settings["host"]
c.JupyterHub.port = settings["port"]
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = settings["hub_port"]
c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{settings['proxy_api_port']}"
c.ConfigurableHTTPProxy.command = [settings["proxy_command"]]
c.JupyterHub.db_url = f"sqlite:///{state / 'jupyterhub.sqlite'}"
c.JupyterHub.cookie_secret_file = str(state / "jupyterhub_cookie_secret")
c.JupyterHub.pid_file = str(state / "jupyterhub.pid")
c.JupyterHub.cleanup_servers = True  # stopping the hub stops every student's server
c.JupyterHub.cleanup_proxy = True
if settings.get("ssl_cert"):
    # The proxy serves HTTPS only; every cookie the hub and the servers set is Secure.
    c.JupyterHub.ssl_cert = settings["ssl_cert"]
    c.JupyterHub.ssl_key = settings["ssl_key"]
    c.JupyterHub.tornado_settings = {"cookie_options": {"secure": True}}
    c.Spawner.cookie_options = {"secure": True}

c.Authenticator.allowed_users = set(students)
c.JupyterHub.shutdown_on_logout = True  # logging out stops the server and revokes its token
c.Spawner.ip = "127.0.0.1"
c.Spawner.cmd = [settings["student_python"], "-m", "jupyterhub.singleuser"]
c.Spawner.default_url = "/lab/tree/notebooks/00_start_here.ipynb"
c.Spawner.start_timeout = 60
c.Spawner.http_timeout = 60
c.Spawner.poll_interval = settings.get("poll_interval_s", 10)  # how soon a dead service is restarted

if settings["demo"]:
    from workbook.classroom.course import copy_into

    c.JupyterHub.authenticator_class = "shared-password"
    c.SharedPasswordAuthenticator.user_password = (state / "workshop-password").read_text().strip()
    c.JupyterHub.spawner_class = "jupyterhub.spawner.SimpleLocalProcessSpawner"
    c.SimpleLocalProcessSpawner.home_dir_template = str(state / "homes" / "{username}")
    c.Spawner.notebook_dir = str(state / "homes" / "{username}")
    c.Spawner.pre_spawn_hook = lambda spawner: copy_into(Path(spawner.home_dir))
    if os.geteuid() == 0:  # a demo as root: the servers are root too (the warning said so)
        c.Spawner.args = ["--ServerApp.allow_root=True"]
else:
    c.JupyterHub.authenticator_class = "workbook.classroom.authenticator.StudentPAMAuthenticator"
    c.JupyterHub.spawner_class = "workbook.classroom.spawner.StudentSpawner"
    c.StudentPAMAuthenticator.account_prefix = settings["account_prefix"]
    c.StudentSpawner.account_prefix = settings["account_prefix"]

# The students' model: the gateway on loopback (Classroom.servers_llm_url: from the servers on
# this machine no TLS is needed, and no certificate to trust). The `openai` provider's own settings, with the
# student's own hub token as the API key (a callable: each server's token is its own).
gateway_url = f"http://127.0.0.1:{settings['gateway_port']}"
c.Spawner.environment = {
    "AI__PROVIDER": "openai",
    "AI__OPENAI_BASE_URL": f"{gateway_url}/services/llm/v1",
    "AI__OPENAI_API_KEY": lambda spawner: spawner.api_token,
    "AI__MODEL": settings["model_alias"],
    "AI__TIMEOUT_S": "120",
    **marker, **passthrough,
}

# -- services: the model server, the class's gateway in front of it, the instructor, the culler
engine_env = dict(settings.get("engine_env") or {})
if settings.get("engine") == "vllm":
    # vLLM reads its key from here (a command line is every local user's to read; a root
    # process's environment is not).
    engine_env["VLLM_API_KEY"] = Path(settings["engine_key_file"]).read_text().strip()
engine_socket = settings.get("engine_socket")
services = [
    {"name": "llm-engine", "command": settings["engine_command"], "environment": {**engine_env, **marker}},
    {"name": "llm", "url": gateway_url,
     "command": [sys.executable, "-m", "workbook.classroom.gateway"],
     "environment": {"WORKBOOK_CLASSROOM_ENGINE_URL": ("http://llm-engine" if engine_socket else
                                                       f"http://127.0.0.1:{settings['engine_port']}"),
                     **({"WORKBOOK_CLASSROOM_ENGINE_SOCKET": engine_socket} if engine_socket else {}),
                     "WORKBOOK_CLASSROOM_PER_STUDENT": str(settings["per_student"]),
                     "WORKBOOK_CLASSROOM_USAGE_DB": str(state / "llm-usage.sqlite"),
                     **({"WORKBOOK_CLASSROOM_ENGINE_KEY_FILE": settings["engine_key_file"]}
                        if settings.get("engine_key_file") else {}),
                     **marker, **passthrough, **hub_only}},
    {"name": "instructor", "api_token": (state / "instructor-token").read_text().strip()},
]
roles = [{"name": "admin", "services": ["instructor"]}]
if settings.get("idle_culler"):
    services.append({"name": "idle-culler",
                     "command": [sys.executable, "-m", "jupyterhub_idle_culler",
                                 f"--timeout={settings['idle_timeout_s']}", "--cull-every=60"],
                     "environment": {**marker}})
    roles.append({"name": "idle-culler", "services": ["idle-culler"],
                  "scopes": ["list:users", "read:users:activity", "read:servers", "delete:servers"]})
c.JupyterHub.services = services
c.JupyterHub.load_roles = roles
