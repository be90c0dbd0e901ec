"""model_io"""
