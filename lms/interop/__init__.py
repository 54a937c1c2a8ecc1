"""The title-review system's interface (省职称评审管理信息系统统一衔接服务平台, 35号文 四(三)): machine clients."""
