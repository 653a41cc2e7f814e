"""What a bulk command knows of a store's folders: each folder listed once per run, with sizes
(one MLSD or ListObjectsV2 instead of a look per file), kept up to date as files land. Shared by
migrate_images_to_hostgator and transfer_photos."""

import posixpath
import threading


class FolderListings:
    def __init__(self, store):
        self.store, self._folders, self._lock = store, {}, threading.Lock()

    def _folder(self, name):
        folder, file_name = posixpath.split(name)
        with self._lock:
            if folder not in self._folders:
                self._folders[folder] = self.store.file_sizes(folder)
            return self._folders[folder], file_name

    def size(self, name):
        """The file's size as listed, or None when the folder does not hold it."""
        files, file_name = self._folder(name)
        return files.get(file_name)

    def holds(self, name):
        files, file_name = self._folder(name)
        return file_name in files

    def landed(self, name, size):
        folder, file_name = posixpath.split(name)
        with self._lock:
            self._folders.setdefault(folder, {})[file_name] = size
