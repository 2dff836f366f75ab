"""Where export files live: Django's `exports` storage (settings.STORAGES). On one machine a
folder under EXPORT_DIR; on several web nodes an S3-compatible bucket shared by all of them
(django-storages), so a link made on one node downloads from any other (docs/operations.md,
"Scaling out")."""

import os
from typing import IO

from django.conf import settings
from django.core.files import File
from django.core.files.storage import FileSystemStorage, Storage


class ExportFileSystemStorage(FileSystemStorage):
    """The local folder EXPORT_DIR, read from the settings at each use (not frozen when the
    storage is first built), as the exports always were."""

    @property
    def base_location(self) -> str:
        location = self._location  # type: ignore[attr-defined]
        return str(self._value_or_setting(location, settings.EXPORT_DIR))

    @property
    def location(self) -> str:
        return os.path.abspath(self.base_location)


class TemporaryFile(File):
    """A named temporary file handed to a storage: the local folder moves it into place in one
    rename (so nobody reads half a file); a bucket uploads it."""

    def __init__(self, file: IO[bytes]) -> None:
        super().__init__(file, name=file.name)

    def temporary_file_path(self) -> str:
        return str(self.name)


def file_touch(storage: Storage, name: str) -> None:
    """Resets a file's modification time to now (the purge goes by age). Raises
    FileNotFoundError when it is gone."""
    if isinstance(storage, FileSystemStorage):
        os.utime(storage.path(name))
        return
    # An S3-compatible bucket: copying an object onto itself renews its LastModified.
    bucket = storage.bucket  # type: ignore[attr-defined]
    key = storage._normalize_name(name)  # type: ignore[attr-defined]
    from botocore.exceptions import ClientError  # type: ignore[import-untyped]

    try:
        bucket.Object(key).copy_from(
            CopySource={"Bucket": bucket.name, "Key": key}, MetadataDirective="REPLACE"
        )
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey"):
            raise FileNotFoundError(name) from exc
        raise
