{ pkgs, src }: { }
