# JupyterHub's configuration for `python -m workbook classroom` (`jupyterhub -f <this file>`).
#
# JupyterHub runs this file with `c`, its config object, in scope. What changes from one class
# to the next (ports, folders, the number of students) comes from the JSON file named by
# WORKBOOK_CLASSROOM_SETTINGS, which `workbook.classroom.hub.Classroom` writes; the secrets
# (the workshop password, the instructor's token) stay in their own mode-600 files beside it.
import json
import os
import sys
from pathlib import Path

from workbook.classroom.course import copy_course

c = get_config()  # noqa: F821 -- provided by JupyterHub when it loads this file

settings = json.loads(Path(os.environ["WORKBOOK_CLASSROOM_SETTINGS"]).read_text())
state = Path(settings["state"])
students = [f"student{number}" for number in range(1, settings["students"] + 1)]
marker = {"WORKBOOK_CLASSROOM_RUN": os.environ["WORKBOOK_CLASSROOM_RUN"]}
# Tests and a checkout run the workbook from its source folder: every child must import the same one.
passthrough = {name: os.environ[name] for name in ("PYTHONPATH", "WORKBOOK_CACHE_DIR") if name in os.environ}

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

# -- accounts: student1..studentN, one workshop password (admins cannot log in with it)
c.JupyterHub.authenticator_class = "shared-password"
c.SharedPasswordAuthenticator.user_password = (state / "workshop-password").read_text().strip()
c.Authenticator.allowed_users = set(students)
c.JupyterHub.shutdown_on_logout = True  # logging out stops the server and revokes its token

# -- one process per student, a home under the state folder, the course copied in on spawn
c.JupyterHub.spawner_class = "jupyterhub.spawner.SimpleLocalProcessSpawner"
c.SimpleLocalProcessSpawner.home_dir_template = str(state / "homes" / "{username}")
c.Spawner.cmd = [sys.executable, "-m", "jupyterhub.singleuser"]
if os.geteuid() == 0:  # containers and cloud shells often run as root
    c.Spawner.args = ["--ServerApp.allow_root=True"]
c.Spawner.notebook_dir = str(state / "homes" / "{username}")
c.Spawner.default_url = "/lab/tree/notebooks/00_start_here.ipynb"
c.Spawner.pre_spawn_hook = copy_course
c.Spawner.start_timeout = 60
c.Spawner.http_timeout = 60
c.Spawner.poll_interval = settings.get("poll_interval_s", 10)  # how soon a dead service is restarted
llm_url = f"http://127.0.0.1:{settings['port']}/services/llm/v1"
c.Spawner.environment = {
    # The notebooks' `live` backend: the workbook's vllm provider pointed at the class's model,
    # the student's own hub token as the API key (a callable: each server's token is its own).
    "AI__PROVIDER": "vllm",
    "AI__VLLM_BASE_URL": llm_url,
    "AI__VLLM_API_KEY": lambda spawner: spawner.api_token,
    "AI__MODEL": settings["model_alias"],
    "AI__TIMEOUT_S": "120",
    **marker, **passthrough,
}

# -- services: the model server, the class's gateway in front of it, the instructor, the culler
services = [
    {"name": "llm-engine", "command": settings["engine_command"], "environment": {**marker}},
    {"name": "llm", "url": f"http://127.0.0.1:{settings['gateway_port']}",
     "command": [sys.executable, "-m", "workbook.classroom.gateway"],
     "environment": {"WORKBOOK_CLASSROOM_ENGINE_URL": f"http://127.0.0.1:{settings['engine_port']}",
                     "WORKBOOK_CLASSROOM_PER_STUDENT": str(settings["per_student"]),
                     "WORKBOOK_CLASSROOM_USAGE_DB": str(state / "llm-usage.sqlite"),
                     **({"WORKBOOK_CLASSROOM_ENGINE_KEY_FILE": settings["engine_key_file"]}
                        if settings.get("engine_key_file") else {}),
                     **marker, **passthrough}},
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
