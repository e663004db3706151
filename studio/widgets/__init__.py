"""Qt widgets shared by the studio's views and the tray."""
