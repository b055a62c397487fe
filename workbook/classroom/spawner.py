"""JupyterHub's ``LocalProcessSpawner``, starting each student's server as their own account.

The default spawner already does the part that matters -- ``setuid`` to the account before
the server starts, home as the working folder -- but for the account named like the hub user;
here the hub name ``student3`` is the account ``wb-student3``. Two more things a class needs:
the student's copy of the course is made *as the student* (root writing into a home its owner
controls would follow any link they planted there), and when a server stops, every process of
that account ends with it, whatever it did to detach (``nohup``, a new session, a double fork).
"""

from __future__ import annotations

import asyncio
import pwd

from jupyterhub.spawner import LocalProcessSpawner, set_user_setuid
from traitlets import Unicode

from .accounts import PREFIX, end_processes_of, system_name

COPY_TIMEOUT_S = 120


class StudentSpawner(LocalProcessSpawner):
    account_prefix = Unicode(PREFIX, help="prefix of the students' Unix accounts").tag(config=True)

    @property
    def account(self) -> pwd.struct_passwd:
        return pwd.getpwnam(system_name(self.user.name, self.account_prefix))

    def make_preexec_fn(self, name):
        return set_user_setuid(self.account.pw_name)

    def user_env(self, env):
        account = self.account
        env.update(USER=account.pw_name, LOGNAME=account.pw_name, HOME=account.pw_dir,
                   SHELL=account.pw_shell or "/bin/bash")
        return env

    async def copy_course(self) -> None:
        """The course into the student's home, by a process running as the student."""
        account = self.account
        process = await asyncio.create_subprocess_exec(
            self.cmd[0], "-m", "workbook.classroom.course", account.pw_dir,
            user=account.pw_uid, group=account.pw_gid, extra_groups=[], cwd=account.pw_dir,
            env=self.get_env(), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
        try:
            output, _ = await asyncio.wait_for(process.communicate(), COPY_TIMEOUT_S)
        except asyncio.TimeoutError:
            process.kill()
            raise RuntimeError(f"copying the course for {self.user.name} took over {COPY_TIMEOUT_S} s")
        if process.returncode != 0:
            raise RuntimeError(f"copying the course for {self.user.name} failed: {output.decode()[-500:]}")
        self.log.info("%s", output.decode().strip())

    async def start(self):
        await self.copy_course()
        return await super().start()

    async def stop(self, now=False):
        await super().stop(now=now)
        left = await asyncio.to_thread(end_processes_of, self.account.pw_uid)
        if left:
            self.log.error("processes of %s still running after stop: %s", self.account.pw_name, left)

