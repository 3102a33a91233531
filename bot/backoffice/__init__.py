"""The staff web app (the back office), served at ``/backoffice/`` by the same process."""
