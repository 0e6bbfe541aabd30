"""Qt-free jobs that combine the layers below for the app and the command line alike: retrieving
and sending studies, the report job, the image -> result pipeline, the AI node. The app runs them on
workers, the commands in the foreground; neither keeps its own copy."""
